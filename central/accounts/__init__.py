"""Personal accounts: passwords (Argon2), a second factor (TOTP), lock-out, sessions, roles."""
