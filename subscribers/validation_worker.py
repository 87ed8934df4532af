"""A helper process that validates CSV chunks for the importer: pickles in, pickles out.

Address validation is most of an import's CPU time; in a process of its own it runs in
parallel with the reading and the database writes of the importing process (threads would
share one GIL). It is started as ``python -m subscribers.validation_worker`` rather than
through ``multiprocessing``, so it never re-imports the caller's main script and never
forks a process that has threads. It reads ``(header, source_name, options)`` then chunks
from stdin until EOF, and writes one result per chunk to stdout. Only the importer talks to
it, over its own pipes.
"""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    from subscribers.csv_io import check_chunk

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    header, source_name, options = pickle.load(source)  # noqa: S301 (the importer, our parent)
    while True:
        try:
            chunk = pickle.load(source)  # noqa: S301 (the importer, our parent)
        except EOFError:
            return
        pickle.dump(check_chunk(chunk, header, source_name, options), sink)
        sink.flush()


if __name__ == "__main__":
    main()
