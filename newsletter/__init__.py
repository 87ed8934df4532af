"""newsletter: turns news briefs into personalised, tracked email newsletters and delivers them."""

__version__ = "0.1.0"
