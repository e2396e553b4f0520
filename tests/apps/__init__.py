"""Small apps that tests serve with a real server process."""
