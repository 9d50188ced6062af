"""What the user keeps: sessions, feedback, memories, and serving their files."""
