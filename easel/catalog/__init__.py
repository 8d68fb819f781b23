"""Public models: one module per model name, each holding its contract from the seed documents."""
