"""The `anpr-central` subcommands, one module per area: service, cameras, data custody."""
