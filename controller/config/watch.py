"""Whether a configuration file changed since it was last looked at, by its
modification time (a file that vanished, or came back, counts as changed)."""

import os


class FileWatch:
    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = self._stat()

    def _stat(self):
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return None

    def changed(self) -> bool:
        """Whether the file changed since the last call (or since the watch began)."""
        mtime = self._stat()
        changed, self._mtime = mtime != self._mtime, mtime
        return changed
