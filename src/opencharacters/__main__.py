from opencharacters.cli import main

main()
