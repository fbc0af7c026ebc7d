"""The Prometheus endpoint of a worker or the scheduler: the process's series (gateway.metrics)
plus what is sampled on each scrape (queue depths, circuit breakers)."""
