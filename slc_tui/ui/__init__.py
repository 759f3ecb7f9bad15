"""The Textual dashboard (imported only when a dashboard opens: Textual is slow to import)."""
