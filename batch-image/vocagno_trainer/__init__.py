"""Student trainer of vocagno: continual pretraining with the teacher guided loss or the plain baseline."""
