"""ChurnGuard: churn prediction for telecom customers, built as ports and adapters."""

__version__ = "0.1.0"
