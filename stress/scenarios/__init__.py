"""One module per scenario, each with ``NAME`` and ``async def run(settings) -> Result``."""
