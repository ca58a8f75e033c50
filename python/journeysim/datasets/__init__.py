"""Sample data to learn and test with: synthetic exports generated on demand
from a stated journey (nothing large is shipped)."""

from .saas_accounts import saas_accounts
from .saas_journey import SAAS_STAGES, saas_journey

__all__ = ["SAAS_STAGES", "saas_accounts", "saas_journey"]
