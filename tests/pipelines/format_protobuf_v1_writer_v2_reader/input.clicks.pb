
u1/ €Ðê¶·3
u2	/productsgoogle è×ê¶·3
u1/cart Äãê¶·3
u3/direct ðþê¶·3
u2	/checkout Ø†ë¶·3