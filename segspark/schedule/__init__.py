"""Running segspark on a schedule: the weekly command, its refit policy and its completion records."""
