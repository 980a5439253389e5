"""The one error type of the local cluster: its message is meant for a person at a terminal."""


class ClusterError(RuntimeError):
    """The local cluster could not be built, started or reached; the message says why and what to do."""
