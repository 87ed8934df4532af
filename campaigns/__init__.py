"""What is sent: campaigns, the weekly digest, freezing, dispatch workers, tracking and reports."""
