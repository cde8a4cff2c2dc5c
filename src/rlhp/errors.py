"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""


class RlhpError(Exception):
    """A problem with the user's input or files; the message names the problem and the fix."""


class ConfigError(RlhpError):
    """A configuration value is invalid or inconsistent."""


class StoreError(RlhpError):
    """The label store file is missing, corrupt, foreign or of an unknown format version."""


class RunDirError(RlhpError):
    """A run directory cannot be created, resumed or read."""
