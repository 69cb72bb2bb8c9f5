"""Provisioning for technicians: keys now; CA, enrollment, broker ACLs and self-test next."""
