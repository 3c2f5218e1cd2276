"""amodal: open-world amodal appearance completion, as a library, a CLI and a Snakemake workflow."""

__version__ = "0.1.0"


class InstanceError(Exception):
    """Bad input for one instance: names the instance and the file, the run goes on."""

    def __init__(self, instance: str, path, message: str):
        self.instance = instance
        self.path = str(path)
        self.message = message
        super().__init__(f"instance {instance!r}: {message} ({self.path})")
