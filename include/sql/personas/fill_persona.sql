-- Fill what a persona lacks; never overwrite a known phone, email or name.
UPDATE personas SET
    phone = COALESCE(phone, :phone),
    email = COALESCE(email, :email),
    first_name = COALESCE(first_name, :first_name),
    last_name = COALESCE(last_name, :last_name),
    birth_date = COALESCE(birth_date, :birth_date),
    updated_at = :now
WHERE persona_id = :persona_id
