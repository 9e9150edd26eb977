"""What the listeners, the sweep and the web server share, below the wiring that builds it:
the services container, the listeners' work queue, Slack event de-duplication, and what an
uninstall stops."""
