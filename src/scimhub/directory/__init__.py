"""The directory the host application reads: users with their groups, mapped attributes and roles."""
