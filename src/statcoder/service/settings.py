"""Settings of the coding service: the one ``statcoder.settings.Settings`` class.

``ServiceSettings`` stays importable for the service code; it is the same class.
"""

from statcoder.settings import Settings as ServiceSettings
from statcoder.settings import get_settings

__all__ = ["ServiceSettings", "get_settings"]
