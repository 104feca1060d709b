UPDATE etl_runs SET opt_ins_sent = :sent WHERE run_id = :run_id AND credential = :credential
