"""The few exception types the library raises. Only the CLI and web routes turn them into exit codes."""


class LlumiError(Exception):
    """Base class: a problem a person can act on. The message says what to do."""


class ConfigError(LlumiError):
    """A setting or option is invalid (unknown key, wrong type, out of range)."""


class InputError(LlumiError):
    """An input file or table cannot be used as a whole (not found, unknown format, missing column)."""


class WorkspaceError(LlumiError):
    """The workspace lacks what a stage needs (for example `pairs` before any `ingest`)."""
