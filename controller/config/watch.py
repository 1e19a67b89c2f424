"""Whether a configuration file changed since it was last looked at: by its
modification time, size and inode (a file that vanished, or came back, counts as
changed). The inode catches a file replaced by a rename (how editors and deployment
tools write) within the resolution of the modification time."""

import os


class FileWatch:
    def __init__(self, path: str) -> None:
        self.path = path
        self._seen = self._stat()

    def _stat(self) -> tuple[int, int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino, info.st_dev

    def changed(self) -> bool:
        """Whether the file changed since the last call (or since the watch began)."""
        seen = self._stat()
        changed, self._seen = seen != self._seen, seen
        return changed
