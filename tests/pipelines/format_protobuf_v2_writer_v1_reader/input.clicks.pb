
u1/ €Ðê¶·3*s12ios#
u2	/productsgoogle è×ê¶·32web
u1/cart Äãê¶·3*s12ios#
u3/direct ðþê¶·3*s92android
u2	/checkout Ø†ë¶·32web