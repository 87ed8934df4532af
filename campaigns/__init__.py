"""What is sent: campaigns, the weekly digest, freezing, dispatch workers, tracking and reports.

Importing the package registers what it adds to the subscribers package: the engagement
segment rules ("opened in the last 30 days") and the tracking events' place in data
export and erasure, so any program that can send a campaign also evaluates those rules.
"""

from campaigns import engagement, personal_data

__all__ = ["engagement", "personal_data"]
