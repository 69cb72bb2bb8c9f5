"""What every process of the system reads from its host at start-up: its TOML config, its
key files and its broker TLS settings. Shared by the agent, the central, the research
service and provisioning, so that all four refuse the same bad file with the same words.

`wire/` stays free of I/O: it turns bytes into records and keys into signatures; this
package turns files into those keys and configs.
"""
