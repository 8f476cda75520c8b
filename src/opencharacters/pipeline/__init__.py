"""A live call as a pipeline of stages (see session.py for the list, ports.py for the seams)."""
