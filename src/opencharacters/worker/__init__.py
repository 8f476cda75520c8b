"""Media workers: processes that claim sessions from the database and run their calls."""
