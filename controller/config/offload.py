"""Work that would stall Ryu's event loop, run in a real OS thread instead.

Ryu runs every app, every switch connection and the REST server as green threads of
one OS thread (eventlet): a function that computes for seconds without yielding, like
reading and checking a large policy file, stops all of them for as long (no packet-in
answered, no echo, no REST). :func:`off_loop` runs it in eventlet's pool of OS threads:
the green thread that calls it waits, the others go on, and Python's GIL hands the
interpreter back to them every few milliseconds.

Python's cyclic garbage collector is paused meanwhile. A full collection holds the GIL
for as long as it walks every object of the process, and a load that allocates millions
of objects triggers collection after collection, each longer than the last: 0.1 s to
0.9 s each while a 4 MB policy loads, where the event loop otherwise waits a few
milliseconds at most. What the load leaves behind is freed by reference counting; the
collector resumes when the last load running ends.

What runs in the thread must not use green primitives (eventlet locks, green sockets,
Ryu's hub) nor log through handlers that do: pure computation and plain file reads,
which is what the policy loaders are.
"""

import gc
from collections.abc import Callable
from typing import Any, TypeVar

from eventlet import tpool

T = TypeVar('T')

# Loads running (green threads of the one event-loop thread: no lock needed), and
# whether the collector was on when the first of them began.
_running = 0
_collector_was_enabled = False


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` run in an OS thread while the calling green thread waits,
    the garbage collector paused; its result, or its exception raised here."""
    global _running, _collector_was_enabled
    if _running == 0:
        _collector_was_enabled = gc.isenabled()
        gc.disable()
    _running += 1
    try:
        return tpool.execute(function, *args)
    finally:
        _running -= 1
        if _running == 0 and _collector_was_enabled:
            gc.enable()
