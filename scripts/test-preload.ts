// test preload
