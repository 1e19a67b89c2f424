"""The problems of a configuration file, each at its place: ``file:line:col: key.path:
message``."""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem of a file. ``line`` and ``column`` count from 1 (None when the problem
    has no place, like an unreadable file); ``path`` is the dotted key path."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += ':%d' % self.line + (':%d' % self.column if self.column else '')
        return '%s: %s%s' % (place, self.path + ': ' if self.path else '', self.message)


class ConfigError(ValueError):
    """A file that cannot be used; ``errors`` holds every ConfigIssue found, by line."""

    def __init__(self, errors: Iterable[ConfigIssue]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line or 0, e.column or 0, e.path, e.message))
        super().__init__('\n'.join(str(error) for error in self.errors))
