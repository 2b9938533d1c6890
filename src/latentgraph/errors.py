"""The errors a user's input can raise: each names the key, file or record at fault.

A leaf module: every layer raises these, and the command line maps them to exit status 2.
"""

from __future__ import annotations

from typing import Any


class ConfigValueError(ValueError):
    """A config value out of its allowed range; ``key`` is the full dotted key once validated."""

    def __init__(self, key: str, value: Any, requirement: str):
        self.key, self.value, self.requirement = key, value, requirement
        super().__init__(f"invalid config value {key}={value!r}: {requirement}")


class InvalidConfigValues(ConfigValueError):
    """Several config values out of range at once; ``errors`` holds one :class:`ConfigValueError` each."""

    def __init__(self, errors: list[ConfigValueError]):
        self.errors = list(errors)
        first = self.errors[0]
        self.key, self.value, self.requirement = first.key, first.value, first.requirement
        listed = "; ".join(f"{error.key}={error.value!r}: {error.requirement}" for error in self.errors)
        ValueError.__init__(self, f"{len(self.errors)} invalid config values: {listed}")


class DataError(ValueError):
    """Input data that cannot be read as documented (bad file, bad format, bad record)."""


class BadRecordError(DataError):
    """A bad record met under the ``strict`` policy."""


USER_ERRORS = (ConfigValueError, DataError)
