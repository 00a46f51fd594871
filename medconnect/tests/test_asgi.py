"""What the ASGI entry point does to the process it is loaded in."""

import gc
import importlib

import medconnect.asgi


def test_the_startup_heap_is_frozen_out_of_full_collections():
    # Django, the apps and their configuration live as long as the process; a
    # full collection that walks them stops every socket (bench/README.md).
    gc.unfreeze()
    importlib.reload(medconnect.asgi)
    assert gc.get_freeze_count() > 10_000
