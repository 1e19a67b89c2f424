"""An immutable, hashable mapping: the mappings of loaded configurations (the VLAN
policy, the arbiter's policy) are these, so a whole configuration is a value that
compares and hashes field by field."""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any


class FrozenDict(Mapping[Any, Any]):
    """An immutable, hashable mapping. It keeps the order it was built in (the VLAN
    policy's loader sorts ports by number); equality, like a dict's, ignores order."""

    __slots__ = ('_data', '_hash')

    def __init__(self, items: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = ()) -> None:
        self._data = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return 'FrozenDict(%r)' % (self._data,)
