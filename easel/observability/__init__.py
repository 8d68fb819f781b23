"""Operations: request and task context for logs, JSON logging, access logs and Prometheus metrics."""
