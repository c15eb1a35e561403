# Payload size as % of bsdiff's patch, per pair, one bar per tool. bench/report.py writes each
# chart's data (work/NAME.dat, whose first line holds the column titles) and its variables
# (work/NAME.gpvars: dat, svg, ncol, colors, width, what); scripts/bench then runs
#   gnuplot -e "load 'bench/work/sizes-x86-64.gpvars'" bench/sizes.gp
set encoding utf8
set terminal svg size width,520 dynamic font "sans,12" background "white"
set output svg
set title "Payload size as % of bsdiff's patch, ".what." (lower is better; bsdiff = 100%)"
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
plot for [i=1:ncol] dat using i+2:xtic(strcol(1)."\n".strcol(2)) title columnheader(i+2) lc rgb word(colors, i)
