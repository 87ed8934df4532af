"""Who receives the newsletter: subscribers, consent, signup routes, segments, CSV import/export."""
