"""The single-node reference architecture: one EC2 instance running Sourcegraph with Docker Compose."""
