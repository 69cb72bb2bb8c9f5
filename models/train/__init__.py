"""Training-data generation, training, export and evaluation. Never imported at run time."""
