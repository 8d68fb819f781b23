"""colorize: give a black-and-white photo its colours (wanx2.1-imageedit function colorization)."""
