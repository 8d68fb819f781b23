"""Image engines: numpy/PIL in, numpy/PIL out. They know nothing of HTTP or tasks."""
