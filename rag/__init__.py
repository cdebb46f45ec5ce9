"""Model-backed package: hub-aware libraries stay offline (see ``core.offline``)."""

from core.offline import use_offline_defaults

use_offline_defaults()
