"""The exceptions that fail one instance and let the run go on (imports nothing of amodal)."""

from __future__ import annotations


class InstanceError(Exception):
    """Bad input for one instance: names the instance and the file, the run goes on."""

    status = "failed"  # the instance's status in its shard's manifest
    details: dict = {}  # extra keys of its failed record

    def __init__(self, instance: str, path, message: str):
        self.instance = instance
        self.path = str(path)
        self.message = message
        super().__init__(f"instance {instance!r}: {message} ({self.path})")


class TooLarge(InstanceError):
    """An instance whose stage would need more memory than its job has left (amodal.run.memory):
    status `failed`, kind `too_large`; the run goes on."""

    details = {"failure": "too_large"}


class RemoteFailure(InstanceError):
    """A remote model (the LISA app) gave no usable answer for one instance: the instance gets
    status `remote_failed` in its shard's manifest and the run goes on. `details` join its
    failed record (what went wrong, how many calls, where)."""

    status = "remote_failed"

    def __init__(self, instance: str, where, message: str, details: dict | None = None):
        super().__init__(instance, where, message)
        self.details = dict(details or {})
