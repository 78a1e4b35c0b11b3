"""Run the same action from several threads at once, as simultaneous requests would, for
tests about locking and unique constraints on PostgreSQL."""

import threading
from collections.abc import Callable, Iterable


def run_at_once(action: Callable, arguments: Iterable, *, expected: type[Exception]) -> list:
    """Call ``action(argument)`` for each argument in its own thread, released together.

    Returns each call's result, or the ``expected`` exception it raised, in finishing order.
    """
    from django.db import connection

    arguments = list(arguments)
    barrier = threading.Barrier(len(arguments))
    outcomes = []

    def attempt(argument):
        try:
            barrier.wait()
            outcomes.append(action(argument))
        except expected as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
