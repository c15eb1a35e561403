# Payload size as % of bsdiff's patch, per pair, one bar per tool. scripts/bench runs
#   gnuplot -e "dat='bench/work/sizes.dat'; svg='bench/sizes.svg'" bench/sizes.gp
# after bench/report.py wrote the data.
set encoding utf8
set terminal svg size 1040,520 dynamic font "sans,12" background "white"
set output svg
set title "Payload size as % of bsdiff's patch (lower is better; bsdiff = 100%)"
set ylabel "% of bsdiff"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "?"
set key outside top center horizontal
set grid ytics
set yrange [0:*]
set xtics nomirror font "sans,11"
set bmargin 4
set arrow from graph 0, first 100 to graph 1, first 100 nohead dashtype 2 lw 1.5 lc rgb "#444444" front
plot dat using 2:xtic(strcol(1)."\n".strcol(6)) title "libdelta (in place)" lc rgb "#1b9e77", \
     "" using 3 title "libdelta --no-inplace" lc rgb "#66c2a5", \
     "" using 4 title "xdelta3 -9" lc rgb "#d95f02", \
     "" using 5 title "zstd -19 --long=31" lc rgb "#7570b3"
