"""Match: folding text, the watchlist index, the matcher (pure) and its Beam step; eval scoring."""
