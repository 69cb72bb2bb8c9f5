"""The `anpr-central` subcommands, one module per area: service, cameras, accounts,
hotlists, camera plan, data custody."""
