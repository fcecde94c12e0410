"""Request and response bodies (Create / Update / Public); routes never return table rows."""
