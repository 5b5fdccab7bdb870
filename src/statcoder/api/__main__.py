"""``python -m statcoder.api``: serve with settings from the ``STATCODER_*`` environment."""

from statcoder.api.server import serve

serve()
