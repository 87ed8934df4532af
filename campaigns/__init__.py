"""What is sent: campaigns, the weekly digest, freezing, dispatch workers, tracking and reports.

What the package adds to the subscribers package (engagement segment rules, the tracking
events' place in data export and erasure) is registered by
:func:`campaigns.wiring.wire_extensions`, which the web app factory and the CLI call when
they are built; importing the package registers nothing.
"""
